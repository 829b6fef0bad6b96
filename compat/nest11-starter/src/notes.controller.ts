import {
  CanActivate,
  Controller,
  Delete,
  Get,
  Injectable,
  Param,
  Put,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Cors } from 'nestjs-cors';

@Injectable()
export class AuthGuard implements CanActivate {
  canActivate(): boolean {
    throw new UnauthorizedException();
  }
}

@Cors({ origin: 'https://app.example.com', credentials: true })
@Controller('notes')
export class NotesController {
  @Get()
  list() {
    return [];
  }

  @Cors({ maxAge: 600 })
  @Put(':id')
  update(@Param('id') id: string) {
    return { id };
  }

  @Cors(false)
  @Delete(':id')
  remove() {}

  @UseGuards(AuthGuard)
  @Get('private')
  secret() {
    return 'never';
  }
}
